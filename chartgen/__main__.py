from chartgen.entry import main

main()
