import numpy as np
import mdbus

notional, volume = {}, {}
with mdbus.Subscriber("demo", start="oldest") as sub:
    while not sub.caught_up:   # everything the ring holds, in batches
        t = sub.read_batch(4096, timeout=1).get("trade")
        for sym in np.unique(t["symbol"]) if t is not None else []:
            mine = t[t["symbol"] == sym]
            px, qty = mine["px"] / mdbus.PX_SCALE, mine["qty"] / mdbus.QTY_SCALE
            notional[sym] = notional.get(sym, 0) + (px * qty).sum()
            volume[sym] = volume.get(sym, 0) + qty.sum()
for sym in sorted(volume):
    print(sym.decode(), round(notional[sym] / volume[sym], 4))
