"""`python -m bench.testing.fake_server`: the same as `bench fake-server`."""

import sys

from bench.testing.fake_server.cli import main

sys.exit(main())
