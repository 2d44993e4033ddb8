"""Events/s decoding the same AMI bytes with libami and with panoramisk's own parser path.

Usage: python bench_decode.py CORPUS [--rounds N]

Both sides read `Event` and `Channel` from every event. libami: `libami.Decoder` fed in 64 KiB
chunks. panoramisk: its `AMIProtocol.data_received` (decode, split on blank lines,
`Message.from_line`, dispatch) with a factory whose `dispatch` reads the two headers, fed the
same chunks. After one untimed round each (imports, first touches of memory), each side runs
`--rounds` times (default 5) in this process, alternating; each round
gives a ratio (libami's events/s over panoramisk's in the same round), and the median ratio is the
result, with the minimum and maximum beside it. Times are the process's CPU time
(`time.process_time`), so that other jobs on a busy machine do not decide the result.

Both sides are timed over windows of about the same length: a libami round decodes the corpus
as many times as it takes panoramisk to decode it once (counted from the untimed rounds). One
pass of libami takes a few milliseconds, panoramisk's half a second; a virtual machine's speed
can change by half from one moment to the next, and a ratio of a few milliseconds against half a
second measured whichever moment the short window fell in rather than the two decoders.
"""

import argparse
import pathlib
import sys
import time

CHUNK = 65536


def chunks(data):
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def run_libami(parts):
    import libami

    decoder = libami.Decoder("client")
    message = libami.Message
    events = 0
    sink = None
    for part in parts:
        decoder.feed(part)
        for item in decoder:
            if type(item) is message and item.kind == "event":
                sink = item["Event"], item.get("Channel")
                events += 1
    return events, sink


def run_panoramisk(parts):
    from panoramisk.ami_protocol import AMIProtocol

    class Factory:
        events = 0
        sink = None

        def dispatch(self, message):
            Factory.sink = message["Event"], message.get("Channel")
            Factory.events += 1

    protocol = AMIProtocol()
    protocol.connection_made(None)
    protocol.factory = Factory()
    for part in parts:
        protocol.data_received(part)
    return Factory.events, Factory.sink


def timed(fn, parts, passes=1):
    """Events decoded in `passes` passes over `parts`, and the CPU time they took."""
    start = time.process_time()
    count = sum(fn(parts)[0] for _ in range(passes))
    return count, time.process_time() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("corpus", type=pathlib.Path)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    data = args.corpus.read_bytes()
    parts = chunks(data)
    # One untimed round of each side first: the first one imports its module (libami loads
    # its shared library) and touches its memory for the first time, which is not decoding.
    # Then one more of each, also untimed, sets how many passes make a libami round as long
    # as a panoramisk one.
    run_libami(parts)
    run_panoramisk(parts)
    n_ami, t_ami = timed(run_libami, parts, 3)
    n_pk, t_pk = timed(run_panoramisk, parts)
    passes = max(1, round(t_pk / max(t_ami / 3, 1e-9)))
    ami, pk = [], []
    for _ in range(args.rounds):
        ami.append(timed(run_libami, parts, passes))
        pk.append(timed(run_panoramisk, parts))
    # Every round of each side saw the same events as the other side.
    ami_counts = {n_ami / 3} | {c / passes for c, _ in ami}
    if ami_counts != {n_pk} or {c for c, _ in pk} != {n_pk}:
        print(f"event counts differ: libami {n_ami // 3}, panoramisk {n_pk}", file=sys.stderr)
        return 1
    r_ami = sorted(c / t for c, t in ami)
    r_pk = sorted(c / t for c, t in pk)
    ratios = sorted((ca / ta) / (cp / tp) for (ca, ta), (cp, tp) in zip(ami, pk))
    mid = len(ratios) // 2
    print(
        f"corpus: {len(data)} bytes, {n_pk} events, {args.rounds} rounds (CPU time), "
        f"{passes} libami passes per round"
    )
    print(f"libami:     {r_ami[mid]:12,.0f} events/s median ({r_ami[0]:,.0f} to {r_ami[-1]:,.0f})")
    print(f"panoramisk: {r_pk[mid]:12,.0f} events/s median ({r_pk[0]:,.0f} to {r_pk[-1]:,.0f})")
    print(f"ratio:      {ratios[mid]:12.1f}x median ({ratios[0]:.1f}x to {ratios[-1]:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
