 €„¯ı1ªN
s01illegal structure on the slopehousingcitymgmt ˆ*section chief08