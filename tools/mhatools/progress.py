"""One progress line on stderr: what is being measured, n of N, elapsed time."""
import sys
import time


class Progress:
    def __init__(self, title, total):
        self.title, self.total, self.n = title, total, 0
        self.start = time.monotonic()
        self.tty = sys.stderr.isatty()

    def _write(self, text, final=False):
        elapsed = time.monotonic() - self.start
        line = f"[{self.title} {self.n}/{self.total} {elapsed:5.0f}s] {text}"
        if self.tty:
            sys.stderr.write("\r\033[K" + line[:150] + ("\n" if final else ""))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def advance(self, text):
        """Starts the next of the N items."""
        self.n += 1
        self._write(text)

    def step(self, text):
        """Reports progress within the current item (shown on a terminal only)."""
        if self.tty:
            self._write(text)

    def done(self):
        self._write("done", final=True)
