"""What leaves Dateline on its own: web push notifications to followers of a story, signed
webhooks to other systems, WebSub pings. Each is a consumer of the blogs' event logs, delivering
in the background, at least once, with retries; none sits in a writer's path."""
