"""``python -m keyphrase_tagger.train`` (what ``torchrun`` launches) is ``kpt-train``."""

from keyphrase_tagger.cli.train import main

if __name__ == "__main__":
    main()
