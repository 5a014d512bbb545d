import sys

from ktnas.cli import main

sys.exit(main())
