import time, data_synth, pandas as pd
from data_synth.check import calibration_report
t=time.time()
g=data_synth.generate_trial(seed=0)
print('gen', time.time()-t)
rep=calibration_report(g.data)
pd.set_option('display.width',250); pd.set_option('display.max_rows',500)
m=rep[rep.status=='missed']
print(rep.status.value_counts())
print(m[['id','value','achieved','tol']].to_string())
rep.to_pickle('/tmp/rep.pkl')
