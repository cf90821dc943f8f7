"""linkcheck: are the cited pages still there, and do they still say what the article quotes?"""

__version__ = "0.1.0"
