from facesift.cli.app import main

main()
