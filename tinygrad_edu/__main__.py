import sys

from tinygrad_edu.cli import main

sys.exit(main())
