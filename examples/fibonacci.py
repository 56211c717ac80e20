"""A tiny module to try `sokuji complete` on."""


def fibonacci(n: int) -> int:
    """Return the n-th Fibonacci number."""
    if n < 2:
        return n
    

def main() -> None:
    for i in range(10):
        print(i, fibonacci(i))
