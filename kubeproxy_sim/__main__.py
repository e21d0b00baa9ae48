import sys

from kubeproxy_sim.cli.main import main

sys.exit(main())
