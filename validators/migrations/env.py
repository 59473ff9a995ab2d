from collector.migrate import run_env

run_env()
