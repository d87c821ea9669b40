"""StepTimer accumulators on synthetic timings: a fake clock and fake lazily-completing marks."""
import pytest

from turboyolo.perf.timing import StepTimer


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def run_step(timer, clock, durations, images=8, gap=0.0):
    clock.advance(gap)
    timer.start_step()
    for phase, seconds in durations:
        clock.advance(seconds)
        if phase == "other":
            continue
        timer.lap(phase)
    timer.end_step(images)


STEP = [("data", 0.4), ("h2d", 0.1), ("forward", 0.2), ("backward", 0.25), ("optimizer", 0.05)]


def test_phases_wall_and_shares_add_up():
    clock = FakeClock()
    timer = StepTimer("cpu", clock=clock)
    for _ in range(4):
        run_step(timer, clock, STEP + [("other", 0.0)], images=8)
    s = timer.summary()
    assert s["steps"] == 4 and s["images"] == 32
    assert s["wall_s"] == pytest.approx(4.0)
    assert s["images_per_s"] == pytest.approx(8.0)
    assert s["data_s"] == pytest.approx(1.6)
    assert s["backward_share"] == pytest.approx(0.25)
    assert s["data_wait_share"] == pytest.approx(0.4)
    assert s["step_s_median"] == pytest.approx(1.0)
    shares = sum(s[f"{p}_share"] for p in ("data", "h2d", "forward", "backward", "optimizer", "other"))
    assert shares == pytest.approx(1.0)


def test_tail_of_step_and_gap_between_steps_count_as_other():
    clock = FakeClock()
    timer = StepTimer("cpu", clock=clock)
    run_step(timer, clock, [("forward", 1.0), ("other", 0.5)])
    run_step(timer, clock, [("forward", 1.0)], gap=0.25)  # logging between steps
    s = timer.summary()
    assert s["other_s"] == pytest.approx(0.75)
    assert s["wall_s"] == pytest.approx(2.75)
    assert s["step_s_median"] == pytest.approx(1.25)  # the gap is not inside a step


def test_reset_starts_a_new_window_and_custom_phases_appear():
    clock = FakeClock()
    timer = StepTimer("cpu", clock=clock)
    run_step(timer, clock, [("forward", 3.0)])
    timer.reset()
    clock.advance(100.0)  # validation between epochs is not counted
    run_step(timer, clock, [("warmup_sched", 0.5), ("forward", 0.5)], images=4)
    s = timer.summary()
    assert s["steps"] == 1 and s["wall_s"] == pytest.approx(1.0)
    assert s["warmup_sched_s"] == pytest.approx(0.5)
    assert s["data_s"] == 0.0  # standard phases always present


def test_external_comm_time_moved_out_of_backward():
    clock = FakeClock()
    timer = StepTimer("cpu", clock=clock)
    run_step(timer, clock, [("forward", 1.0), ("backward", 2.0)])
    timer.add_seconds("exposed_comm", 0.5, taken_from="backward")
    s = timer.summary()
    assert s["backward_s"] == pytest.approx(1.5)
    assert s["exposed_comm_share"] == pytest.approx(0.5 / 3.0)
    assert s["wall_s"] == pytest.approx(3.0)


class LazyMarks:
    """Marks that complete only when the test says so, like CUDA events behind a busy GPU."""

    def __init__(self, clock):
        self.clock = clock
        self.completed = 0
        self.issued = 0
        self.waits = 0

    def mark(self):
        self.issued += 1
        return (self.issued - 1, self.clock())

    def ready(self, mark):
        return mark[0] < self.completed

    def wait(self, mark):
        self.waits += 1
        self.completed = max(self.completed, mark[0] + 1)

    def elapsed_s(self, earlier, later):
        return later[1] - earlier[1]

    def release(self, mark):
        pass


def test_lazy_marks_resolved_without_waiting_in_the_hot_path():
    clock = FakeClock()
    marks = LazyMarks(clock)
    timer = StepTimer("cpu", marks=marks, clock=clock)
    for _ in range(3):
        run_step(timer, clock, STEP)
    assert marks.waits == 0
    assert timer.summary(wait=False)["steps"] == 0  # nothing completed yet, nothing waited for
    marks.completed = 7  # first step's 7 marks (start, 5 laps, end) done
    run_step(timer, clock, STEP)
    assert marks.waits == 0
    partial = timer.summary(wait=False)
    assert partial["steps"] == 1 and partial["wall_s"] == pytest.approx(1.0)
    final = timer.summary()  # epoch end: waits once for the rest
    assert final["steps"] == 4 and final["wall_s"] == pytest.approx(4.0)
    assert final["data_share"] == pytest.approx(0.4)


def test_disabled_timer_counts_images_and_wall_only():
    clock = FakeClock()
    timer = StepTimer("cpu", enabled=False, clock=clock)
    for _ in range(2):
        run_step(timer, clock, STEP, images=5)
    s = timer.summary()
    assert s["images"] == 10 and s["wall_s"] == pytest.approx(2.0) and s["forward_s"] == 0.0
