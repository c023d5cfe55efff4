import sys

from tools.deploy_local.run import main

sys.exit(main())
