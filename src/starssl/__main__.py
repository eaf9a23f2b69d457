import sys

from starssl.cli import main

sys.exit(main())
