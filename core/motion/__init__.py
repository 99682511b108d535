"""Speech timing or audio → per-frame motion: coarticulated ARKit weights, or S2L landmark motion solved to them."""
