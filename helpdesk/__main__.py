"""`python -m helpdesk` runs the `helpdesk` command."""

import sys

from helpdesk.cli import main

sys.exit(main())
