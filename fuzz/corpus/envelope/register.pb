é €„¯ı1‚:
1	ms-s01c01	ms-s01c02fe-s01-1fe-s01-2fire-hazmat