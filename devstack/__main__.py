from devstack.cli.main import main

main()
