"""The compiled inner loops (numba, nogil): everything in the app that numba compiles.

- sampling.py: core.sampling's rules in compiled form, the step record, and draw_step(), the one
  draw-shape-record step that both models' chunk loops call;
- pixelcnn.py, wavenet.py: each model's network arithmetic and its chunk loop;
- fast_math.py: the float32 tanh and gate both networks use;
- cache.py: numba's on-disk cache of all of the above (where it lives, whether it is current).

Arrays in, arrays out: the torch models in nets/ export their weights as float32 numpy arrays and
call these; nothing here imports torch or nets.
"""
