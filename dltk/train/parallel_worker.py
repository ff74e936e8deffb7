"""A worker of a parallel ``trainNetwork`` run, started by rank 0 (see :mod:`dltk.train.parallel`).

``python -m dltk.train.parallel_worker FOLDER RANK WORLD PORT ENV`` loads the job
rank 0 wrote to FOLDER (network, data, options — no pickled code), joins the
process group through the TCP store on 127.0.0.1:PORT and trains its share of
every mini-batch. Errors end the process with their message as its last line.
"""

from __future__ import annotations

import sys
import traceback


def main(argv: list[str]) -> int:
    folder, rank, world, port, env = argv
    try:
        from dltk.train.parallel import worker_main

        worker_main(folder, int(rank), int(world), int(port), env)
    except BaseException as e:  # noqa: BLE001 - reported to rank 0 through the log's last line
        traceback.print_exc()
        print(f"{type(e).__name__}: {e}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
