from simtrainer.cli import main

main()
