from schedlint.cli import main

main()
