"""CDR lines in Asterisk's own formats, shared by the CDR and batch tests."""

import csv

from billing.cdr_format import MASTER_COLUMNS

# As cdr_csv writes it: every field quoted, embedded quotes doubled.
MASTER_21 = (
    '"acct-7","1001","0212345678","from-internal","""Ion Popescu"" <1001>",'
    '"PJSIP/1001-00000001","PJSIP/trunk-00000002","Dial",'
    '"PJSIP/0212345678@trunk,60,L(3600000)","2025-08-01 10:00:00",'
    '"2025-08-01 10:00:05","2025-08-01 10:01:06","66","61","ANSWERED",'
    '"DOCUMENTATION","1754042400.1","vip","","1754042400.1","3"\n'
)
MASTER_18 = (
    '"acct-7","1001","0721234567","from-internal","""Ion"" <1001>","PJSIP/1001-00000003",'
    '"","Dial","PJSIP/0721234567@trunk","2025-08-01 11:00:00","","2025-08-01 11:00:20",'
    '"20","0","NO ANSWER","DOCUMENTATION","1754046000.5",""\n'
)
# cdr_custom with CSV_QUOTE() around every field.
CLICKPHONE = (
    '"pbx1","pbx1-1754042400.9","pbx1-1754042400.9","acct-7","1001","+40212345678",'
    '"clickphone-out","""Ion, the boss"" <1001>","PJSIP/1001-00000009","PJSIP/trunk-0000000a",'
    '"Dial","2025-08-01 10:00:00","2025-08-01 10:00:02","2025-08-01 10:02:02","122","120",'
    '"ANSWERED","","0212345678","ro_fixed"\n'
)


def quoted(values):
    """Quote like Asterisk: every field in double quotes, embedded quotes doubled."""
    return ",".join('"' + v.replace('"', '""') + '"' for v in values) + "\n"


def master_values(**overrides):
    """The fields of MASTER_21 with some replaced, in Master.csv column order."""
    values = dict(zip(MASTER_COLUMNS, next(csv.reader([MASTER_21]))))
    values.update(overrides)
    return [values[c] for c in MASTER_COLUMNS]
