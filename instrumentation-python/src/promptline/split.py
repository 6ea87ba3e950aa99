"""The registry's A/B split assignment (src/registry/split.ts), byte for byte: the registry assigns
an arm from sha256(split id NUL key), and ``load_prompt`` passes the key; these functions let an app
or a test predict the arm a key gets without asking."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class SplitArm:
    version: int
    weight: float


def bucket_of(split_id: str, key: str) -> float:
    """A number in [0, 1) from sha256(split_id NUL key): 52 bits, uniform, stable across processes."""
    digest = hashlib.sha256(split_id.encode("utf-8") + b"\x00" + key.encode("utf-8")).digest()
    high = int.from_bytes(digest[0:4], "big")
    low = int.from_bytes(digest[4:8], "big") >> 12  # 20 bits
    return (high * 2**20 + low) / 2**52


def assign_arm(split_id: str, arms: Sequence[SplitArm], key: str) -> SplitArm:
    point = bucket_of(split_id, key) * 100
    edge = 0.0
    for arm in arms:
        edge += arm.weight
        if point < edge:
            return arm
    return arms[-1]  # weights add up to 100; rounding can leave the last sliver
