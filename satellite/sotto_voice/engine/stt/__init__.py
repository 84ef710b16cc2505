"""Speech-to-text: pocketsphinx decoding against a grammar built from the home.

Modules, lightest first: `home` (what can be commanded), `grammar` (home + intent
templates -> JSGF text, needs hassil), `pronounce` (espeak-ng pronunciations for words
the dictionary lacks), `fsg` (JSGF -> minimal word graph), `recognizer` (streaming
decoding with rejection, needs pocketsphinx and numpy). Importing this package imports
none of them.
"""
