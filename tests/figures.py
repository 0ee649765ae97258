"""The proof suites' figures (outages, crashes), collected over the session and printed at the
end of the pytest run as a "proof figures" section, one line per scenario, to be quoted.

    def test_…(proof_figures: ProofFigures) -> None:
        proof_figures.record("postgres stopped [4 writers, 3 readers]", lost=0, recovery_s=1.4)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

_KEY = pytest.StashKey["ProofFigures"]()


@dataclass
class ProofFigures:
    lines: dict[str, str] = field(default_factory=dict)

    def record(self, scenario: str, **figures: object) -> None:
        """Figures of one scenario, in the order given (a scenario run again replaces them)."""
        self.lines[scenario] = "  ".join(f"{name}={_shown(v)}" for name, v in figures.items())


def _shown(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_shown(v)}" for k, v in value.items()) + "}"
    return str(value)


@pytest.fixture(scope="session")
def proof_figures(pytestconfig: pytest.Config) -> ProofFigures:
    return pytestconfig.stash.setdefault(_KEY, ProofFigures())


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    found = config.stash.get(_KEY, None)
    if found is None or not found.lines:
        return
    terminalreporter.write_sep("=", "proof figures")
    for scenario, line in found.lines.items():
        terminalreporter.write_line(f"{scenario}: {line}")
