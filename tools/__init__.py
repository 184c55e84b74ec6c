"""The instructors' tools of the course: the website, the decks, the student edition, the grading of a class.

Each module holds one concern; build, deckcheck and grading are the command lines on top (`python -m tools.build`).
"""
