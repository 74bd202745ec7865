"""Randomized position sizes draw from one generator per thread (trading.services._sizes_random),
seeded from the system: a forked worker child gets one of its own, not a copy of its parent's
that would draw the same sizes in every child."""

import os
import threading

from trading import services


def test_a_thread_keeps_its_generator():
    assert services._sizes_random() is services._sizes_random()


def test_each_thread_has_its_own_generator():
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(services._sizes_random()))
    thread.start()
    thread.join()

    assert theirs[0] is not services._sizes_random()


def test_a_forked_child_draws_sizes_of_its_own():
    parent = services._sizes_random()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its first draw, and leave without running anything else
        os.write(write, repr(services._sizes_random().random()).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as answer:
        child_draw = float(answer.read())

    # A copy of the parent's generator would draw exactly the parent's next value.
    assert child_draw != parent.random()
