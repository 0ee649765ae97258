"""Reporter inputs: messages from the field (Telegram, Slack, email) turned into the newsroom's
use cases, with the same permissions as the console. Each adapter is thin: it checks that the
message comes from the platform, finds the Dateline user paired with its sender, and calls the
newsroom; it never writes to the store itself."""
