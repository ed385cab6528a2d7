"""Citizens' personal data under UU PDP 27/2022: the data map and its retention periods
(`policy`), the job that deletes or anonymises what is past its period in every store
(`retention`) and the `helpdesk privacy` command (`cli`)."""
