"""pixelforge's kernel: what every stage shares, importing none of them.

The stages (``crawler``, ``curation``, ``data_cards``, ``training``, ``inference``) import this
package and never each other; data crosses stage borders only as files whose layout is declared
here: the raw store (:mod:`pixelforge.rawstore`), the dataset folder (:mod:`pixelforge.dataset`)
and the run folder with its checkpoints (:mod:`pixelforge.model.checkpoint`).
"""
