from zkop.cli import main

main()
