#!/usr/bin/python3
"""audit_schemas.py — compares the codec's message tables with Apache Kafka's message JSON.

For every API in system/proto/proto.c and every version in its codec range, both directions,
the wire layout implied by proto_messages.h (types, nullability, array nesting, order) must
equal the one implied by clients/src/main/resources/common/message/<Name>{Request,Response}.json
(tagged fields aside); API keys and first flexible versions must agree too. Kafka's files are
read as data at audit time from a local clone; nothing of them is copied here.

Usage: audit_schemas.py KAFKA_GIT_DIR [REPO_ROOT]   (exit 1 on any difference)
Last run: Kafka 1eb76443 (2024-10), 28 APIs, 157 lists, 482 fields, no difference
(Metadata 0-8, ListOffsets 0-4).
"""
import json
import os
import re
import subprocess
import sys

KAFKA = sys.argv[1]
ROOT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "..")
D='clients/src/main/resources/common/message/'
hdr=open(os.path.join(ROOT, 'system/proto/proto_messages.h')).read()
lists={'list_groups_request':[]}
for m in re.finditer(r'#define PROTO_MSG_(\w+)\(F, S\)((?:.*\\\n)*.*)', hdr):
    body=m.group(2)
    fields=[]
    for f in re.finditer(r'F\(S, (\w+), (\w+), (\w+), (\w+), (\w+), ([^,]+), (\w+)\)', re.sub(r'\s+',' ',body.replace('\\\n',' '))):
        k,mem,vmin,vmax,nmin,d,e=f.groups()
        V=lambda x: 10**6 if x=='PROTO_VX' else (10**6 if x=='PROTO_NN' else int(x))
        fields.append((k,mem,V(vmin),V(vmax),V(nmin),e))
    lists[m.group(1)]=fields
src=open(os.path.join(ROOT, 'system/proto/proto.c')).read()
apis=re.findall(r'API\((\d+), "(\w+)", (\d+), (\d+), \d+, \d+, (\w+), (\w+), (\w+)\)', re.sub(r'\s+',' ',src))
def rng(v):
    if v in (None,'none'): return None
    m=re.match(r'(\d+)(\+|-(\d+))?$',v); a=int(m.group(1))
    return (a, 10**6 if m.group(2)=='+' else (int(m.group(3)) if m.group(3) else a))
def cseq(name,v):
    out=[]
    for k,mem,a,b,n,e in lists[name]:
        if not (a<=v<=b): continue
        nul='?' if v>=n else ''
        if k=='ARRAY_STRUCT': out+=['['+nul]+cseq(e,v)+[']']
        elif k.startswith('ARRAY_'): out.append(k[6:].lower()+'[]'+nul)
        else: out.append({'BOOL':'bool','INT8':'int8','INT16':'int16','INT32':'int32','INT64':'int64','UUID':'uuid','STRING':'string','BYTES':'bytes','RECORDS':'records'}[k]+nul)
    return out
def jseq(fields,v,common):
    out=[]
    for f in fields:
        r=rng(f['versions'])
        if r is None or not (r[0]<=v<=r[1]) or 'taggedVersions' in f and rng(f['taggedVersions'])[0]<=v: continue
        nv=rng(f.get('nullableVersions'))
        nul='?' if nv and nv[0]<=v<=nv[1] else ''
        t=f['type']
        if t.startswith('[]'):
            et=t[2:]
            if et in ('int32','int64','string'): out.append(et+'[]'+nul)
            else:
                sub=f.get('fields') or common[et]
                out+=['['+nul]+jseq(sub,v,common)+[']']
        else: out.append(t+nul)
    return out
bad=0
for key,name,lo,hi,flex,req,resp in apis:
    for d,cname in (('Request',req),('Response',resp)):
        t=subprocess.run(['git','-C',KAFKA,'show',f'HEAD:{D}{name}{d}.json'],capture_output=True,text=True).stdout
        j=json.loads('\n'.join(l for l in t.splitlines() if not l.strip().startswith('//')))
        common={c['name']:c['fields'] for c in j.get('commonStructs',[])}
        for v in range(int(lo),int(hi)+1):
            a=cseq(cname,v); b=jseq(j['fields'],v,common)
            if a!=b:
                bad+=1; print('MISMATCH',name,d,'v',v); print('  C   ',a); print('  JSON',b)
for key,name,lo,hi,flex,req,resp in apis:
    t=subprocess.run(['git','-C',KAFKA,'show',f'HEAD:{D}{name}Request.json'],capture_output=True,text=True).stdout
    j=json.loads('\n'.join(l for l in t.splitlines() if not l.strip().startswith('//')))
    jf=j['flexibleVersions']; jf=32767 if jf=='none' else int(jf.rstrip('+'))
    cf=32767 if flex=='NO_FLEX' else int(flex)
    if jf!=cf or int(key)!=j['apiKey']:
        bad+=1; print('FLEX/KEY MISMATCH',name,cf,jf,key,j['apiKey'])
print('%d lists, %d fields, %d APIs; differences: %d' % (len(lists), sum(len(x) for x in lists.values()), len(apis), bad))
sys.exit(1 if bad or len(apis) < 28 else 0)
