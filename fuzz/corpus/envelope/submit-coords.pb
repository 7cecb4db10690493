÷ €„¯ý1ê7
attack.violent	R¸…ëQ>@š™™™™	^@8HRknife, mall