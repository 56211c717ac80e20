"""The confidence gate: how sure the model is of the line it is writing, as the product of
its tokens' probabilities. Once that falls under the minimum, what follows is not worth
generating (nor showing): decoding stops, and a suggestion that was unsure from its first
token is hidden. Pure: fed one token probability at a time by the engine."""

from __future__ import annotations


class Confidence:
    def __init__(self, minimum: float) -> None:
        self.minimum = minimum  # 0 keeps everything
        self.first_line = 1.0  # the kept first line's probability (reported)
        self._line = 1.0
        self._lines = 0  # newlines written so far

    def keeps(self, prob: float) -> bool:
        """Whether a token of this probability still leaves the line sure enough."""
        line = self._line * prob
        if line < self.minimum:
            return False
        self._line = line
        if self._lines == 0:
            self.first_line = line
        return True

    def wrote(self, text: str) -> None:
        """The text so far, after a kept token: a new line starts its own product."""
        lines = text.count("\n")
        if lines != self._lines:
            self._lines = lines
            self._line = 1.0

    @staticmethod
    def cut(text: str) -> str:
        """What to keep when the gate closes: a line the model was unsure how to go on is
        kept up to there if it is the first; a later line is dropped whole (a half line at
        the end of a block would be worse than none)."""
        return text[: text.rfind("\n")] if "\n" in text else text
