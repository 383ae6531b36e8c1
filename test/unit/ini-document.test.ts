import { describe, expect, it } from 'vitest';
import { IniDocument, formatList, parseList } from '../../src/ini/document.js';

const HAND_EDITED = `; barman.conf edited by hand
[barman]
barman_home=/var/lib/barman
  # indented comment
log_level   :   INFO
path_prefix = /usr/lib/postgresql/15/bin

[pg]
description =  "Main cluster"
conninfo = host=pg
   user=barman
   dbname=postgres
backup_method=postgres
# trailing comment
streaming_archiver = on`;

describe('IniDocument', () => {
  it('round-trips a hand-edited file byte for byte', () => {
    expect(new IniDocument(HAND_EDITED).toString()).toBe(HAND_EDITED);
    const crlf = HAND_EDITED.replace(/\n/g, '\r\n') + '\r\n';
    expect(new IniDocument(crlf).toString()).toBe(crlf);
  });

  it('reads values as configparser does: delimiters, spacing, continuation lines, case', () => {
    const doc = new IniDocument(HAND_EDITED);
    expect(doc.sectionNames()).toEqual(['barman', 'pg']);
    expect(doc.get('barman', 'LOG_LEVEL')).toBe('INFO');
    expect(doc.get('pg', 'conninfo')).toBe('host=pg\nuser=barman\ndbname=postgres');
    expect(doc.get('pg', 'description')).toBe('"Main cluster"');
    expect(doc.problems).toEqual([]);
  });

  it('changes only the line of the key it sets, keeping its spacing', () => {
    const doc = new IniDocument(HAND_EDITED);
    doc.set('barman', 'log_level', 'DEBUG');
    const lines = doc.toString().split('\n');
    const orig = HAND_EDITED.split('\n');
    expect(lines.filter((l, i) => l !== orig[i])).toEqual(['log_level   :   DEBUG']);
  });

  it('replaces a value with continuation lines by one line', () => {
    const doc = new IniDocument(HAND_EDITED);
    doc.set('pg', 'conninfo', 'host=db user=barman');
    expect(doc.toString()).toContain('conninfo = host=db user=barman\nbackup_method=postgres');
    expect(doc.get('pg', 'conninfo')).toBe('host=db user=barman');
  });

  it('changes the last line of a file without a final newline and keeps it without one', () => {
    const doc = new IniDocument(HAND_EDITED);
    doc.set('pg', 'streaming_archiver', 'off');
    expect(doc.toString()).toBe(HAND_EDITED.replace(/streaming_archiver = on$/, 'streaming_archiver = off'));
  });

  it('adds a key after the last key of its section', () => {
    const doc = new IniDocument(HAND_EDITED);
    doc.set('barman', 'compression', 'gzip');
    expect(doc.toString()).toContain('path_prefix = /usr/lib/postgresql/15/bin\ncompression = gzip\n\n[pg]');
    const doc2 = new IniDocument(HAND_EDITED);
    doc2.set('pg', 'slot_name', 'barman');
    expect(doc2.toString().endsWith('streaming_archiver = on\nslot_name = barman\n')).toBe(true);
  });

  it('removes a key with its continuation lines and adds and removes sections', () => {
    const doc = new IniDocument(HAND_EDITED);
    expect(doc.remove('pg', 'conninfo')).toBe(true);
    expect(doc.toString()).not.toContain('dbname=postgres');
    expect(doc.remove('pg', 'conninfo')).toBe(false);
    doc.addSection('new', { a: '1' });
    expect(doc.toString().endsWith('streaming_archiver = on\n\n[new]\na = 1\n')).toBe(true);
    expect(doc.removeSection('new')).toBe(true);
    expect(doc.hasSection('new')).toBe(false);
  });

  it('refuses values and keys that would add lines', () => {
    const doc = new IniDocument(HAND_EDITED);
    expect(() => doc.set('pg', 'description', 'x\n[evil]')).toThrow(/single line/);
    expect(() => doc.set('pg', 'description', 'x\rz')).toThrow(/single line/);
    expect(doc.toString()).toBe(HAND_EDITED);
  });

  it('reports lines it cannot read', () => {
    expect(new IniDocument('[a]\nnot a key line\n').problems[0]?.message).toMatch(/cannot parse line 2/);
  });
});

describe('lists', () => {
  it("parses the seed's Python lists and plain comma lists", () => {
    expect(parseList("['backup','cron','recover']")).toEqual(['backup', 'cron', 'recover']);
    expect(parseList('["a", "b"]')).toEqual(['a', 'b']);
    expect(parseList('[]')).toEqual([]);
    expect(parseList('barman, auth/user/list')).toEqual(['barman', 'auth/user/list']);
    expect(parseList(formatList(['x', 'y/z']))).toEqual(['x', 'y/z']);
  });
});
