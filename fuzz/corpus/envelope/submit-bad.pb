ø €„¯ı1ê!
no.such	
nowhere ÿÿÿÿÿÿÿÿÿH