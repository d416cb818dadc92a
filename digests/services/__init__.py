"""The functions every front door calls: the CLI, the scheduler and the bot."""
