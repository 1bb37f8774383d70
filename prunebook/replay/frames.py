"""Frame-once circular replay for Atari, with Dopamine's ``OutOfGraphReplayBuffer`` semantics.

Each 84x84 frame is stored once (about 7 kB per transition, ~7 GB for the paper's 1M capacity)
and the 4-frame stacks are rebuilt at sample time. Slot ``i`` holds ``(frame_i, a_i, r_i,
terminal_i)``: the newest frame of the stack the agent acted on, its action, the (clipped)
reward that followed and whether that step ended the episode. The next state is the stack
ending at slot ``i + n``. What Dopamine does and we therefore do [dossier §5.1-5.2]:

* Every episode starts with ``stack_size - 1`` zero transitions, so the first stacks of an
  episode are padded with zero frames, like the agent's own ``[0, 0, 0, f0]`` stack.
* ``n``-step returns stop at the first terminal: ``R = sum_{k<L} gamma^k r_{i+k}`` with
  ``L = n`` or the position of that terminal + 1; ``discount = gamma^n * (1 - terminal)``.
* Never sampled: slots whose stack holds an episode end before its last frame, slots whose
  stack or n-step window touches the write cursor (``invalid_range``), and, before the buffer
  is full, the zero padding at the very start.
* ``episode_end=True`` on ``add`` marks a time-limit truncation: the next ``add`` starts a new
  episode, and windows that run into a truncation are never sampled (Dopamine's
  ``episode_end_indices``). We look at episode ends, not only terminals, when checking a stack,
  so padding after a truncation is never sampled either (Dopamine can sample it).

``PrioritizedImageReplay`` is Dopamine's compact-Rainbow buffer: a sum-tree over raw priorities
(no alpha), new transitions get the largest priority seen so far (1.0 at first), padding gets 0,
stratified sampling; the agent turns the returned probabilities into IS weights (beta = 0.5).
"""

from __future__ import annotations

import numpy as np

from prunebook.envs.atari import SCREEN_SIZE
from prunebook.extras import missing_extra

try:
    import cv2
except ImportError as error:  # the 'envs' extra is missing
    raise missing_extra("envs", error) from error

FRAME_SHAPE = (SCREEN_SIZE, SCREEN_SIZE)  # what `prunebook.envs.atari` emits


class ImageReplay:
    """Uniform replay over single frames; ``sample`` rebuilds (84, 84, stack) observations."""

    def __init__(
        self,
        capacity: int,
        stack_size: int = 4,
        update_horizon: int = 1,
        gamma: float = 0.99,
        frame_shape: tuple[int, int] = FRAME_SHAPE,
        max_sample_attempts: int = 1000,
    ):
        if capacity <= stack_size + update_horizon:
            raise ValueError("capacity must exceed stack_size + update_horizon")
        if update_horizon < 1 or stack_size < 1:
            raise ValueError("update_horizon and stack_size must be >= 1")
        self.capacity = capacity
        self.stack_size = stack_size
        self.update_horizon = update_horizon
        self.gamma = gamma
        self.max_sample_attempts = max_sample_attempts
        self.frames = np.zeros((capacity, *frame_shape), np.uint8)
        self.actions = np.zeros(capacity, np.int32)
        self.rewards = np.zeros(capacity, np.float32)
        self.terminals = np.zeros(capacity, np.uint8)
        self.episode_ends = np.zeros(capacity, np.uint8)  # terminal or truncated
        self.add_count = 0
        self._next_is_episode_start = True
        self._discounts = (gamma ** np.arange(update_horizon)).astype(np.float32)  # (n,)

    @staticmethod
    def bytes_per_transition(frame_shape: tuple[int, int] = FRAME_SHAPE) -> int:
        """Frame + int32 action + float32 reward + two uint8 flags."""
        return int(np.prod(frame_shape)) + 4 + 4 + 1 + 1

    @property
    def nbytes(self) -> int:
        arrays = (self.frames, self.actions, self.rewards, self.terminals, self.episode_ends)
        return sum(a.nbytes for a in arrays)

    @property
    def cursor(self) -> int:
        """Slot the next transition is written to."""
        return self.add_count % self.capacity

    def is_full(self) -> bool:
        return self.add_count >= self.capacity

    def __len__(self) -> int:
        return min(self.add_count, self.capacity)

    # ----------------------------------------------------------------------------------- adding
    def _write(self, frame, action, reward, terminal, episode_end, priority) -> None:
        i = self.cursor
        self.frames[i] = frame
        self.actions[i] = action
        self.rewards[i] = reward
        self.terminals[i] = terminal
        self.episode_ends[i] = episode_end
        self.add_count += 1

    def add(
        self, frame, action: int, reward: float, terminal: bool, episode_end: bool = False
    ) -> None:
        """Store ``(frame_t, a_t, r_t, terminal_t)``; ``episode_end`` marks a truncation."""
        self._add(frame, action, reward, terminal, episode_end, None)

    def _add(self, frame, action, reward, terminal, episode_end, priority) -> None:
        frame = np.asarray(frame)
        if frame.shape != self.frames.shape[1:]:
            raise ValueError(f"frame has shape {frame.shape}, expected {self.frames.shape[1:]}")
        if self._next_is_episode_start:
            for _ in range(self.stack_size - 1):
                self._write(0, 0, 0.0, 0, 0, 0.0)
        is_end = bool(terminal) or bool(episode_end)
        self._write(frame, action, reward, bool(terminal), is_end, priority)
        self._next_is_episode_start = is_end

    # --------------------------------------------------------------------------------- sampling
    def _id_range(self) -> tuple[int, int]:
        """Dopamine's ``sample_index_batch`` bounds (before the modulo), max exclusive."""
        if self.is_full():
            return (
                self.cursor - self.capacity + self.stack_size - 1,
                self.cursor - self.update_horizon,
            )
        lo, hi = self.stack_size - 1, self.cursor - self.update_horizon
        if hi <= lo:
            raise RuntimeError(
                f"cannot sample with fewer than stack_size ({self.stack_size}) + update_horizon "
                f"({self.update_horizon}) transitions"
            )
        return lo, hi

    def is_valid(self, indices) -> np.ndarray:
        """Vectorised ``is_valid_transition`` (see module docstring)."""
        idx = np.asarray(indices, dtype=np.int64)
        n, k, cap, c = self.update_horizon, self.stack_size, self.capacity, self.cursor
        ok = (idx >= 0) & (idx < cap)
        if not self.is_full():
            ok &= (idx < c - n) & (idx >= k - 1)
        ok &= np.mod(idx - (c - n), cap) >= k + n  # Dopamine's invalid_range around the cursor
        idx = np.where(ok, idx, 0)
        before = np.mod(idx[:, None] + np.arange(-(k - 1), 0), cap)  # (B, k-1)
        ok &= ~self.episode_ends[before].astype(bool).any(axis=1)
        window = np.mod(idx[:, None] + np.arange(n), cap)  # (B, n)
        ends = self.episode_ends[window].astype(bool)
        first = ends.argmax(axis=1)
        first_is_terminal = self.terminals[window[np.arange(len(idx)), first]].astype(bool)
        ok &= ~ends.any(axis=1) | first_is_terminal  # a truncation inside the window
        return ok

    def _stacks(self, idx: np.ndarray) -> np.ndarray:
        """(B, 84, 84, k) stacks ending at ``idx``, oldest frame first."""
        slots = np.mod(idx[:, None] + np.arange(-(self.stack_size - 1), 1), self.capacity)
        out = np.empty((len(idx), *self.frames.shape[1:], self.stack_size), np.uint8)
        for row, frame_slots in zip(out, slots, strict=True):
            # cv2.merge interleaves channels ~10x faster than a NumPy moveaxis copy.
            cv2.merge([self.frames[s] for s in frame_slots], dst=row)
        return out

    def _sample_indices(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        lo, hi = self._id_range()
        chosen: list[np.ndarray] = []
        have, rejected = 0, 0
        while have < batch_size:
            cand = np.mod(rng.integers(lo, hi, size=batch_size - have), self.capacity)
            good = cand[self.is_valid(cand)]
            rejected += (batch_size - have) - len(good)
            if rejected > self.max_sample_attempts:
                raise RuntimeError(f"max sample attempts: only {have} valid of {batch_size}")
            chosen.append(good)
            have += len(good)
        return np.concatenate(chosen)

    def transitions(self, indices) -> dict[str, np.ndarray]:
        """The n-step transitions starting at ``indices`` (which must be valid)."""
        idx = np.asarray(indices, dtype=np.int64)
        n = self.update_horizon
        window = np.mod(idx[:, None] + np.arange(n), self.capacity)  # (B, n)
        term = self.terminals[window].astype(bool)
        is_terminal = term.any(axis=1)
        length = np.where(is_terminal, term.argmax(axis=1) + 1, n)  # (B,)
        in_window = np.arange(n)[None, :] < length[:, None]
        # R = sum_{k < L} gamma^k r_{i+k}
        returns = (self.rewards[window] * self._discounts * in_window).sum(axis=1)
        stacks = self._stacks(np.concatenate([idx, np.mod(idx + length, self.capacity)]))
        return {
            "observations": stacks[: len(idx)],
            "actions": self.actions[idx],
            "rewards": returns.astype(np.float32),
            "next_observations": stacks[len(idx) :],
            "discounts": (self.gamma**n * (1.0 - is_terminal)).astype(np.float32),
            "terminals": is_terminal.astype(np.float32),
            "indices": idx,
        }

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Uniform batch: observations (B, 84, 84, k) uint8, n-step rewards, discounts, ..."""
        return self.transitions(self._sample_indices(batch_size, rng))


class SumTree:
    """Binary sum-tree over ``capacity`` leaves (power-of-two layout, float64 sums)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._depth = max(1, int(np.ceil(np.log2(capacity))))
        self._first_leaf = 1 << self._depth
        self.nodes = np.zeros(2 * self._first_leaf, np.float64)  # nodes[1] is the root
        self.max_recorded_priority = 1.0

    @property
    def total(self) -> float:
        return float(self.nodes[1])

    def get(self, indices) -> np.ndarray:
        return self.nodes[self._first_leaf + np.asarray(indices, dtype=np.int64)]

    def set(self, indices, values) -> None:
        """Set leaf values and recompute their ancestors from the children (no drift)."""
        idx = np.atleast_1d(np.asarray(indices, dtype=np.int64))
        val = np.broadcast_to(np.asarray(values, dtype=np.float64), idx.shape)
        if np.any(idx < 0) or np.any(idx >= self.capacity):
            raise IndexError("sum-tree index out of range")
        if not np.all(np.isfinite(val)) or np.any(val < 0):
            raise ValueError("priorities must be finite and non-negative")
        self.nodes[self._first_leaf + idx] = val
        if len(val):
            self.max_recorded_priority = max(self.max_recorded_priority, float(val.max()))
        if len(idx) == 1:  # the per-add path: plain scalar walk up to the root
            node = (self._first_leaf + int(idx[0])) // 2
            while node >= 1:
                self.nodes[node] = self.nodes[2 * node] + self.nodes[2 * node + 1]
                node //= 2
            return
        parents = np.unique((self._first_leaf + idx) // 2)
        for _ in range(self._depth):
            self.nodes[parents] = self.nodes[2 * parents] + self.nodes[2 * parents + 1]
            parents = np.unique(parents // 2)

    def sample(self, fractions) -> np.ndarray:
        """Leaves whose prefix-sum interval holds ``fractions * total`` (fractions in [0, 1))."""
        q = np.asarray(fractions, dtype=np.float64) * self.total
        node = np.ones(q.shape, dtype=np.int64)
        for _ in range(self._depth):
            left = 2 * node
            left_sum = self.nodes[left]
            go_right = (q >= left_sum) & (self.nodes[left + 1] > 0)  # guard float round-off
            q = np.where(go_right, q - left_sum, q)
            node = np.where(go_right, left + 1, left)
        return node - self._first_leaf

    def stratified_sample(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """One draw from each of ``batch_size`` equal slices of the total mass."""
        if self.total <= 0:
            raise RuntimeError("cannot sample from an empty sum-tree")
        bounds = np.linspace(0.0, 1.0, batch_size + 1)
        return self.sample(rng.uniform(bounds[:-1], bounds[1:]))


class PrioritizedImageReplay(ImageReplay):
    """Compact-Rainbow prioritized replay: P(i) = p_i / sum_j p_j, raw priorities, no alpha."""

    def __init__(self, capacity: int, **kwargs):
        super().__init__(capacity, **kwargs)
        self.sum_tree = SumTree(capacity)

    @property
    def nbytes(self) -> int:
        return super().nbytes + self.sum_tree.nodes.nbytes

    def _write(self, frame, action, reward, terminal, episode_end, priority) -> None:
        self.sum_tree.set(self.cursor, 0.0 if priority is None else priority)
        super()._write(frame, action, reward, terminal, episode_end, priority)

    def add(
        self,
        frame,
        action: int,
        reward: float,
        terminal: bool,
        episode_end: bool = False,
        priority: float | None = None,
    ) -> None:
        """New transitions get the largest priority recorded so far unless one is given."""
        if priority is None:
            priority = self.sum_tree.max_recorded_priority
        self._add(frame, action, reward, terminal, episode_end, priority)

    def update_priorities(self, indices, priorities) -> None:
        self.sum_tree.set(indices, priorities)

    def _sample_indices(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        self._id_range()  # same "too few transitions" error as the uniform buffer
        idx = self.sum_tree.stratified_sample(batch_size, rng)
        bad = ~self.is_valid(idx)
        attempts = 0
        while bad.any():  # Dopamine re-draws invalid ones from the whole tree (not stratified)
            attempts += int(bad.sum())
            if attempts > self.max_sample_attempts:
                raise RuntimeError("max sample attempts reached in prioritized sampling")
            idx[bad] = self.sum_tree.sample(rng.uniform(size=int(bad.sum())))
            bad = ~self.is_valid(idx)
        return idx

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Adds ``priorities`` and ``probabilities`` (= priority / total) for IS weights.

        Dopamine hands the agent the raw priorities; its weights ``1/sqrt(p)`` are normalised
        by their max, so either key gives the same weights.
        """
        batch = super().sample(batch_size, rng)
        priorities = self.sum_tree.get(batch["indices"])
        batch["priorities"] = priorities.astype(np.float32)
        batch["probabilities"] = (priorities / self.sum_tree.total).astype(np.float32)
        return batch
