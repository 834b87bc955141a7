"""The bot's content (articles, taxonomy, vocabulary, holidays, locales, training examples,
the sample directory, the posters' fonts), installed as the package `unionbot_content`.

No code lives here: the file makes this folder a regular package, so that an installed bot
finds it with `importlib.resources` (bot/config.py). UNIONBOT_CONTENT_DIR points elsewhere.
"""
