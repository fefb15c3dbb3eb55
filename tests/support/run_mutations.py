"""A hypothesis strategy: a valid run.json, mutated in every way a file on disk can be."""

from __future__ import annotations

import json

from hypothesis import strategies as st

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=12) | st.dictionaries(st.text(max_size=10), children, max_size=6),
    max_leaves=30,
)


def paths_in(value, prefix=()):
    """Every path (tuple of keys and indices) to a value inside ``value``."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths_in(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths_in(child, (*prefix, index))


def replaced(record, path, new, delete=False):
    copy = json.loads(json.dumps(record))
    if not path:
        return new
    parent = copy
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return copy


@st.composite
def mutated_run_files(draw, record: dict) -> bytes:
    kind = draw(st.sampled_from(["replace", "replace", "replace", "delete", "nest", "huge", "bytes"]))
    paths = list(paths_in(record))
    path = draw(st.sampled_from(paths))
    if kind == "replace":
        return json.dumps(replaced(record, path, draw(JSON_VALUES))).encode()  # NaN/Infinity as bare tokens
    if kind == "delete" and path:
        return json.dumps(replaced(record, path, None, delete=True)).encode()
    if kind == "huge":  # valid JSON that Python reads as infinity
        return json.dumps(replaced(record, path, "@@")).replace('"@@"', "1e999").encode()
    if kind == "nest":
        depth = draw(st.integers(min_value=1, max_value=50_000))
        return json.dumps(replaced(record, path, "@@")).replace('"@@"', "[" * depth + "]" * depth).encode()
    data = bytearray(json.dumps(record).encode())
    cut = draw(st.integers(min_value=0, max_value=len(data)))
    flips = draw(st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)), max_size=4))
    for position, byte in flips:
        data[position] = byte
    return bytes(data[: cut or len(data)])
