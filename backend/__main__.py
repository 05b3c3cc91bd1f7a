import sys

from backend.cli import main

if __name__ == "__main__":  # not when a child process (the devnet's) imports it as __mp_main__
    sys.exit(main())
