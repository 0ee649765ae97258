// Times in a blog's zone for the newsroom console: wall-clock times to instants (with the clock
// changes' gaps and repeats), and "3:32 p.m. ET" as the server writes it. Plain ES module.

function zoneParts(date, timeZone) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(date);
  return Object.fromEntries(parts.map((p) => [p.type, p.value]));
}

export function offsetMinutes(date, timeZone) {
  const m = zoneParts(date, timeZone);
  const asUTC = Date.UTC(+m.year, +m.month - 1, +m.day, +m.hour, +m.minute, +m.second);
  return (asUTC - Math.floor(date.getTime() / 1000) * 1000) / 60000;
}

// The instants a wall-clock time ("2026-11-25T14:30") names in the blog's zone: none in a
// spring-forward gap, two in a fall-back hour, else one.
export function zonedCandidates(local, timeZone) {
  const [day, clock] = local.split("T");
  const [y, mo, d] = day.split("-").map(Number);
  const [h, mi] = clock.split(":").map(Number);
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  const offsets = new Set(
    [wall - 86_400_000, wall, wall + 86_400_000].map((t) => offsetMinutes(new Date(t), timeZone)),
  );
  const found = new Set();
  for (const offset of offsets) {
    const utc = wall - offset * 60_000;
    if (wallClock(new Date(utc), timeZone) === local) found.add(utc);
  }
  return [...found].sort((a, b) => a - b);
}

// A wall-clock time in the blog's zone → an RFC 3339 UTC time. A time the clocks skip is
// refused; a time they pass twice needs `which` (0: the first, 1: the second).
export function zonedToISO(local, timeZone, which = null) {
  const found = zonedCandidates(local, timeZone);
  const shown = local.replace("T", " ");
  if (!found.length) {
    throw new Error(`${shown} does not exist in ${timeZone}: the clocks skip it; pick another time`);
  }
  if (found.length > 1 && which === null) {
    const error = new Error(`${shown} happens twice in ${timeZone} (the clocks go back); choose which`);
    error.choices = found;
    throw error;
  }
  return new Date(found[which ?? 0]).toISOString();
}

// "3:32 p.m. ET": a time as the rest of the newsroom writes it, in the blog's zone (not the
// browser's, and not its 12-hour "08:32 PM"). The zone's name is the server's (`names`: the
// blog's abbreviations by UTC offset in minutes, from render.zone_names): "BST", where Intl
// would say "GMT+1".
const AP_ZONES = { EST: "ET", EDT: "ET", CST: "CT", CDT: "CT", MST: "MT", MDT: "MT", PST: "PT", PDT: "PT" };

export function apClock(date, timeZone, names = {}) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone, hour: "numeric", minute: "2-digit", hour12: true, timeZoneName: "short",
    }).formatToParts(date).map((p) => [p.type, p.value]),
  );
  const meridiem = parts.dayPeriod === "AM" ? "a.m." : "p.m.";
  const zone = names[String(offsetMinutes(date, timeZone))]
    ?? AP_ZONES[parts.timeZoneName] ?? parts.timeZoneName.replace("GMT", "UTC");
  return `${parts.hour}:${parts.minute} ${meridiem} ${zone}`;
}

export function wallClock(date, timeZone) {
  const m = zoneParts(date, timeZone);
  return `${m.year}-${m.month}-${m.day}T${m.hour}:${m.minute}`;
}
