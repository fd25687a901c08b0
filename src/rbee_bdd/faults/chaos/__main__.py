import sys

from rbee_bdd.chaos.run import main

sys.exit(main())
