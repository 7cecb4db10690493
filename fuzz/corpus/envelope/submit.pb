ö €„¯ı1êF

fire.ebike	
s01-c01charging shed fire *caller0Burban_village