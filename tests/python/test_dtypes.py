"""The numpy dtypes are the C structures of mdbus_msg.h exactly: the
sizes and offsets the compiler reports (_mdbus.layout(), offsetof)."""
import mdbus

SNAPSHOT_HEAD_LEVEL = -2


def test_every_structure_matches_offsetof():
    seen = set()
    for t, name, offset, size in mdbus.layout():
        if t == -1:
            d = mdbus.ROW_DTYPES[mdbus.QUOTE]
        elif t == SNAPSHOT_HEAD_LEVEL:
            d = mdbus.LEVEL
        else:
            d = mdbus.DTYPES[t]
        if name is None:
            if t == -1:
                assert size == 24
            else:
                assert d.itemsize == size, (t, d)
            seen.add(t)
            continue
        f = d.fields[name]
        assert f[1] == offset, (t, name)
        assert f[0].itemsize == size, (t, name)
    assert seen == {-1, -2, 1, 2, 3, 4, 5, 6}


def test_rows_are_head_then_structure():
    for t, row in mdbus.ROW_DTYPES.items():
        assert row.itemsize == 24 + mdbus.DTYPES[t].itemsize
        for name, (ft, off) in mdbus.DTYPES[t].fields.items():
            assert row.fields[name] == (ft, off + 24)
