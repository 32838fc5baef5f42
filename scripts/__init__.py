"""The stage scripts (one per DVC stage, run as `python scripts/<stage>.py`); a package only so tests
import a stage by name (`scripts.<stage>`) to call its main()."""
