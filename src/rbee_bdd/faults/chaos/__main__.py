import sys

from rbee_bdd.faults.chaos.run import main

sys.exit(main())
