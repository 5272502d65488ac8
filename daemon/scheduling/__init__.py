"""When experiments fire: cron, interval with jitter, MTBF inside windows."""
